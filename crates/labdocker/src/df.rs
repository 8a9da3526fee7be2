//! Disk use (`docker system df`) from either layout of `/system/df`: the
//! old one (API up to 1.51: `LayersSize`, `Images`, `Containers`, `Volumes`,
//! `BuildCache` as lists), which Debian's Engine 20.10 (API 1.41) answers and
//! bollard 0.21's `df()` reads as all `None`, and the new one (API 1.52:
//! `ImageUsage`, `ContainerUsage`, ... with totals). The old layout's sums
//! follow the docker CLI's own arithmetic, so the numbers match
//! `docker system df`.

use serde::Serialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::EngineError;

/// One kind of object's disk use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Usage {
    /// How many there are.
    pub count: u64,
    /// How many are in use.
    pub active: u64,
    /// Bytes they take.
    pub size: u64,
    /// Bytes a prune could free.
    pub reclaimable: u64,
}

/// Disk use by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DiskUsage {
    /// Images.
    pub images: Usage,
    /// Containers' writable layers.
    pub containers: Usage,
    /// Local volumes.
    pub volumes: Usage,
    /// The builder's cache.
    pub build_cache: Usage,
    /// Which layout the Engine answered: `old` or `new`.
    pub layout: &'static str,
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn pos(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn totals(v: &Value) -> Usage {
    Usage {
        count: pos(int(v, "TotalCount")),
        active: pos(int(v, "ActiveCount")),
        size: pos(int(v, "TotalSize")),
        reclaimable: pos(int(v, "Reclaimable")),
    }
}

/// Decode an answer to `/system/df` in either layout.
#[must_use]
pub fn decode(v: &Value) -> DiskUsage {
    if v.get("ImageUsage").is_some() || v.get("ContainerUsage").is_some() {
        let part = |k: &str| v.get(k).map(totals).unwrap_or_default();
        return DiskUsage {
            images: part("ImageUsage"),
            containers: part("ContainerUsage"),
            volumes: part("VolumeUsage"),
            build_cache: part("BuildCacheUsage"),
            layout: "new",
        };
    }
    let images = list(v, "Images");
    let total = int(v, "LayersSize");
    let used: i64 = images
        .iter()
        .filter(|i| int(i, "Containers") > 0)
        .filter(|i| int(i, "Size") >= 0 && int(i, "SharedSize") >= 0)
        .map(|i| int(i, "Size") - int(i, "SharedSize"))
        .sum();
    let image_usage = Usage {
        count: images.len() as u64,
        active: images.iter().filter(|i| int(i, "Containers") > 0).count() as u64,
        size: pos(total),
        reclaimable: pos(total - used),
    };
    let containers = list(v, "Containers");
    let running = |c: &&Value| c.get("State").and_then(Value::as_str) == Some("running");
    let container_usage = Usage {
        count: containers.len() as u64,
        active: containers.iter().filter(running).count() as u64,
        size: containers.iter().map(|c| pos(int(c, "SizeRw"))).sum(),
        reclaimable: containers
            .iter()
            .filter(|c| !running(c))
            .map(|c| pos(int(c, "SizeRw")))
            .sum(),
    };
    let volumes = list(v, "Volumes");
    let usage = |vol: &Value, k: &str| vol.get("UsageData").map_or(-1, |u| int(u, k));
    let volume_usage = Usage {
        count: volumes.len() as u64,
        active: volumes.iter().filter(|v| usage(v, "RefCount") > 0).count() as u64,
        size: volumes.iter().map(|v| pos(usage(v, "Size"))).sum(),
        reclaimable: volumes
            .iter()
            .filter(|v| usage(v, "RefCount") == 0)
            .map(|v| pos(usage(v, "Size")))
            .sum(),
    };
    let cache = list(v, "BuildCache");
    let flag = |c: &Value, k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
    let cache_usage = Usage {
        count: cache.len() as u64,
        active: cache.iter().filter(|c| flag(c, "InUse")).count() as u64,
        size: cache
            .iter()
            .filter(|c| !flag(c, "Shared"))
            .map(|c| pos(int(c, "Size")))
            .sum(),
        reclaimable: cache
            .iter()
            .filter(|c| !flag(c, "Shared") && !flag(c, "InUse"))
            .map(|c| pos(int(c, "Size")))
            .sum(),
    };
    DiskUsage {
        images: image_usage,
        containers: container_usage,
        volumes: volume_usage,
        build_cache: cache_usage,
        layout: "old",
    }
}

impl Engine {
    /// The Engine's `/system/df`, raw (either layout).
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn df_raw(&self) -> Result<Value, EngineError> {
        self.raw_get("/system/df")
    }

    /// Disk use by kind.
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn df(&self) -> Result<DiskUsage, EngineError> {
        Ok(decode(&self.df_raw()?))
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn both_layouts() {
        let old = serde_json::json!({
            "LayersSize": 3000,
            "Images": [
                {"Id": "a", "Size": 2000, "SharedSize": 500, "Containers": 1},
                {"Id": "b", "Size": 1000, "SharedSize": 0, "Containers": 0}
            ],
            "Containers": [
                {"Id": "c1", "State": "running", "SizeRw": 10},
                {"Id": "c2", "State": "exited", "SizeRw": 20}
            ],
            "Volumes": [
                {"Name": "v1", "UsageData": {"Size": 7, "RefCount": 1}},
                {"Name": "v2", "UsageData": {"Size": 9, "RefCount": 0}},
                {"Name": "v3", "UsageData": {"Size": -1, "RefCount": -1}}
            ],
            "BuildCache": [
                {"ID": "x", "Size": 100, "InUse": false, "Shared": false},
                {"ID": "y", "Size": 50, "InUse": true, "Shared": false},
                {"ID": "z", "Size": 70, "InUse": false, "Shared": true}
            ]
        });
        let d = decode(&old);
        assert_eq!(d.layout, "old");
        assert_eq!(
            (
                d.images.count,
                d.images.active,
                d.images.size,
                d.images.reclaimable
            ),
            (2, 1, 3000, 1500)
        );
        assert_eq!(
            (
                d.containers.count,
                d.containers.size,
                d.containers.reclaimable
            ),
            (2, 30, 20)
        );
        assert_eq!(
            (
                d.volumes.count,
                d.volumes.active,
                d.volumes.size,
                d.volumes.reclaimable
            ),
            (3, 1, 16, 9)
        );
        assert_eq!(
            (
                d.build_cache.count,
                d.build_cache.size,
                d.build_cache.reclaimable
            ),
            (3, 150, 100)
        );
        let new = serde_json::json!({
            "ImageUsage": {"ActiveCount": 1, "TotalCount": 4, "Reclaimable": 5, "TotalSize": 9},
            "ContainerUsage": {"ActiveCount": 0, "TotalCount": 1, "Reclaimable": 2, "TotalSize": 2}
        });
        let d = decode(&new);
        assert_eq!(d.layout, "new");
        assert_eq!(
            (d.images.count, d.images.size, d.images.reclaimable),
            (4, 9, 5)
        );
        assert_eq!(d.volumes.count, 0);
    }
}
