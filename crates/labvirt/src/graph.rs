//! The lab's topology as Mermaid and Graphviz DOT: segments, their VMs, and
//! the flows labnet's matrix allows. Nothing here touches libvirt.

use std::fmt::Write as _;

use crate::model::VirtLab;

/// Allowed segment-to-segment flows, from labnet's matrix: (from, to, label).
fn flows(lab: &VirtLab) -> Vec<(String, String, String)> {
    labnet::matrix::Matrix::new(lab.net.lab())
        .cells
        .into_iter()
        .filter(|c| c.access == "all" || c.access == "partial")
        .map(|c| {
            let label = if c.access == "all" {
                "any".to_owned()
            } else {
                c.detail.short()
            };
            (c.from, c.to, label)
        })
        .collect()
}

fn id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Mermaid flowchart.
#[must_use]
pub fn mermaid(lab: &VirtLab) -> String {
    let mut s = String::from("flowchart LR\n");
    for seg in lab.net.lab().segments() {
        let n = seg.name.as_str();
        let _ = writeln!(s, "  subgraph seg_{}[\"{n} {}\"]", id(n), seg.cidr);
        let _ = writeln!(s, "    gw_{}((\"gateway {}\"))", id(n), seg.gateway);
        for vm in lab.vms_on(n) {
            let ip = vm.ip.map_or_else(|| "dhcp".to_owned(), |i| i.to_string());
            let _ = writeln!(
                s,
                "    vm_{}[\"{} {ip} ssh:{}\"]",
                id(vm.name.as_str()),
                vm.name,
                vm.ssh_port
            );
        }
        s.push_str("  end\n");
    }
    for (a, b, label) in flows(lab) {
        let _ = writeln!(s, "  seg_{} -->|{label}| seg_{}", id(&a), id(&b));
    }
    s
}

/// Graphviz DOT.
#[must_use]
pub fn dot(lab: &VirtLab) -> String {
    let mut s = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  compound=true;\n",
        lab.name()
    );
    for seg in lab.net.lab().segments() {
        let n = seg.name.as_str();
        let _ = writeln!(
            s,
            "  subgraph cluster_{} {{\n    label=\"{n} {}\";",
            id(n),
            seg.cidr
        );
        let _ = writeln!(s, "    seg_{} [shape=point label=\"\"];", id(n));
        for vm in lab.vms_on(n) {
            let ip = vm.ip.map_or_else(|| "dhcp".to_owned(), |i| i.to_string());
            let _ = writeln!(
                s,
                "    vm_{} [shape=box label=\"{}\\n{ip}\\nssh {}\"];",
                id(vm.name.as_str()),
                vm.name,
                vm.ssh_port
            );
        }
        s.push_str("  }\n");
    }
    for (a, b, label) in flows(lab) {
        let _ = writeln!(
            s,
            "  seg_{} -> seg_{} [ltail=cluster_{} lhead=cluster_{} label=\"{label}\"];",
            id(&a),
            id(&b),
            id(&a),
            id(&b)
        );
    }
    s.push_str("}\n");
    s
}
