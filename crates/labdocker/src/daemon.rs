//! daemon.json from `[docker]`: the keys the lab decides, in Docker's names.

use serde_json::{Map, Value, json};

use crate::model::Docker;

/// The daemon configuration the lab file asks for. Keys the lab does not set
/// are left out, so Docker's defaults stand.
#[must_use]
pub fn daemon_json(d: &Docker) -> Value {
    let mut m = Map::new();
    if let Some(root) = &d.data_root {
        m.insert("data-root".into(), json!(root));
    }
    if let Some(driver) = &d.storage_driver {
        m.insert("storage-driver".into(), json!(driver));
    }
    if let Some(log) = &d.log {
        m.insert("log-driver".into(), json!(log.driver));
        m.insert(
            "log-opts".into(),
            json!({ "max-size": log.max_size, "max-file": log.max_file.to_string() }),
        );
    }
    if !d.address_pools.is_empty() {
        let pools: Vec<Value> = d
            .address_pools
            .iter()
            .map(|p| json!({ "base": p.base.to_string(), "size": p.size }))
            .collect();
        m.insert("default-address-pools".into(), Value::Array(pools));
    }
    Value::Object(m)
}
