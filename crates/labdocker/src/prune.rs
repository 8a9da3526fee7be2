//! Exact prune: the plan lists every object a prune under the lab's policy
//! removes, by id and size, and executing it removes that list and nothing
//! else. Unlike `docker system prune`, nothing is decided at removal time:
//! the dry run and the real run are the same list.
//!
//! The policy, in the order objects are removed:
//! - containers that are not running, paused or restarting;
//! - user-defined networks no remaining container is attached to (never
//!   `bridge`, `host`, `none`, Swarm's `ingress` or `docker_gwbridge`);
//! - images no remaining container uses, created before
//!   `keep_images_newer_than` (all of them when unset); an image's untagged
//!   parent layers (the classic builder's intermediate images) go with it,
//!   as with `docker image rm`;
//! - volumes no remaining container mounts, only when `keep_volumes = false`;
//! - build-cache records not in use.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::PrunePolicy;

/// Kinds of objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// A container.
    Container,
    /// A network.
    Network,
    /// An image.
    Image,
    /// A volume.
    Volume,
    /// A build-cache record.
    BuildCache,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Container => "container",
            Self::Network => "network",
            Self::Image => "image",
            Self::Volume => "volume",
            Self::BuildCache => "build-cache",
        })
    }
}

/// One object a prune removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Its id (a volume's name, which is its id).
    pub id: String,
    /// A name for people: container or network name, image tag.
    pub name: String,
    /// Bytes (a container's writable layer, an image's size including
    /// layers it may share, a volume's data when the Engine knows it).
    pub size: u64,
    /// Image tags to remove one by one (an image with several tags).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Whether labdocker created it.
    pub owned: bool,
}

/// What a prune removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Objects, in removal order.
    pub items: Vec<Item>,
    /// Images kept only because they are newer than the policy's limit.
    pub kept_new_images: usize,
    /// Volumes kept because the policy keeps volumes.
    pub kept_volumes: usize,
}

impl Plan {
    /// Bytes the plan lists (shared image layers counted with each image).
    #[must_use]
    pub fn total_size(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Outcome {
    /// The item.
    pub item: Item,
    /// `None` when removed, else the Engine's reason.
    pub error: Option<String>,
    /// Image ids the Engine deleted with it (its untagged parents).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
}

/// Seconds in a Docker-style duration (`168h`, `30m`, `45s`).
#[must_use]
pub fn duration_secs(v: &str) -> Option<i64> {
    let unit = v.chars().last()?;
    let n: i64 = v[..v.len() - unit.len_utf8()].parse().ok()?;
    n.checked_mul(match unit {
        'h' => 3600,
        'm' => 60,
        's' => 1,
        _ => return None,
    })
}

fn api(what: &'static str) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    move |source| EngineError::Api { what, source }
}

const PREDEFINED: &[&str] = &["bridge", "host", "none", "docker_gwbridge", "ingress"];

impl Engine {
    /// The list a prune under `policy` removes now. `now` is seconds since
    /// the epoch (the image age limit is measured from it).
    ///
    /// # Errors
    /// When the Engine cannot list its objects.
    pub fn prune_plan(&self, policy: &PrunePolicy, now: i64) -> Result<Plan, EngineError> {
        let d = self.bollard();
        let inspected = self.inspect_all()?;
        let sizes: HashMap<String, i64> = self
            .block(
                d.list_containers(Some(bollard::query_parameters::ListContainersOptions {
                    all: true,
                    size: true,
                    ..Default::default()
                })),
            )
            .map_err(api("list containers"))?
            .into_iter()
            .filter_map(|c| Some((c.id?, c.size_rw.unwrap_or(0))))
            .collect();
        let mut items = Vec::new();
        let mut images_in_use = HashSet::new();
        let mut networks_in_use = HashSet::new();
        let mut volumes_in_use = HashSet::new();
        for c in &inspected {
            let state = c.state.as_ref();
            let stays = state.is_some_and(|s| {
                s.running == Some(true) || s.paused == Some(true) || s.restarting == Some(true)
            });
            let id = c.id.clone().unwrap_or_default();
            if stays {
                images_in_use.extend(c.image.clone());
                if let Some(n) = c
                    .network_settings
                    .as_ref()
                    .and_then(|n| n.networks.as_ref())
                {
                    for e in n.values() {
                        networks_in_use.extend(e.network_id.clone());
                    }
                }
                for m in c.mounts.iter().flatten() {
                    volumes_in_use.extend(m.name.clone());
                }
            } else {
                items.push(Item {
                    kind: Kind::Container,
                    size: u64::try_from(sizes.get(&id).copied().unwrap_or(0)).unwrap_or(0),
                    name: c
                        .name
                        .as_deref()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_owned(),
                    id,
                    tags: Vec::new(),
                    owned: crate::engine::owned(c.config.as_ref().and_then(|c| c.labels.as_ref())),
                });
            }
        }
        items.sort_by(|a, b| a.name.cmp(&b.name));
        let mut networks: Vec<Item> = self
            .block(d.list_networks(None::<bollard::query_parameters::ListNetworksOptions>))
            .map_err(api("list networks"))?
            .into_iter()
            .filter(|n| {
                let name = n.name.as_deref().unwrap_or_default();
                !PREDEFINED.contains(&name)
                    && n.ingress != Some(true)
                    && n.scope.as_deref() != Some("swarm")
                    && !n.id.as_ref().is_some_and(|id| networks_in_use.contains(id))
            })
            .map(|n| Item {
                kind: Kind::Network,
                owned: crate::engine::owned(n.labels.as_ref()),
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                size: 0,
                tags: Vec::new(),
            })
            .collect();
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        items.extend(networks);
        let cutoff = policy
            .keep_images_newer_than
            .as_deref()
            .and_then(duration_secs)
            .map(|s| now - s);
        let mut kept_new_images = 0;
        let mut images: Vec<Item> = Vec::new();
        for i in self
            .block(
                d.list_images(Some(bollard::query_parameters::ListImagesOptions {
                    all: false,
                    ..Default::default()
                })),
            )
            .map_err(api("list images"))?
        {
            if images_in_use.contains(&i.id) {
                continue;
            }
            if cutoff.is_some_and(|c| i.created >= c) {
                kept_new_images += 1;
                continue;
            }
            let tags: Vec<String> = i
                .repo_tags
                .iter()
                .filter(|t| t.as_str() != "<none>:<none>")
                .cloned()
                .collect();
            images.push(Item {
                kind: Kind::Image,
                name: tags.first().cloned().unwrap_or_else(|| "<none>".to_owned()),
                size: u64::try_from(i.size).unwrap_or(0),
                owned: i
                    .labels
                    .get(crate::engine::OWNER_LABEL)
                    .is_some_and(|v| v == crate::engine::OWNER),
                tags: if tags.len() > 1 { tags } else { Vec::new() },
                id: i.id,
            });
        }
        images.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        items.extend(images);
        let mut kept_volumes = 0;
        let raw = self.df_raw()?;
        let vols = raw
            .get("Volumes")
            .and_then(serde_json::Value::as_array)
            .cloned();
        let mut volumes = Vec::new();
        let listed = self
            .block(d.list_volumes(None::<bollard::query_parameters::ListVolumesOptions>))
            .map_err(api("list volumes"))?;
        let vol_size: HashMap<String, u64> = vols
            .iter()
            .flatten()
            .filter_map(|v| {
                let name = v.get("Name")?.as_str()?.to_owned();
                let size = v.get("UsageData")?.get("Size")?.as_i64()?;
                Some((name, u64::try_from(size).unwrap_or(0)))
            })
            .collect();
        for v in listed.volumes.into_iter().flatten() {
            if volumes_in_use.contains(&v.name) {
                continue;
            }
            if policy.keep_volumes {
                kept_volumes += 1;
                continue;
            }
            volumes.push(Item {
                kind: Kind::Volume,
                size: vol_size.get(&v.name).copied().unwrap_or(0),
                owned: v
                    .labels
                    .get(crate::engine::OWNER_LABEL)
                    .is_some_and(|l| l == crate::engine::OWNER),
                id: v.name.clone(),
                name: v.name,
                tags: Vec::new(),
            });
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        items.extend(volumes);
        for c in raw
            .get("BuildCache")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            if c.get("InUse").and_then(serde_json::Value::as_bool) == Some(true) {
                continue;
            }
            let id = c
                .get("ID")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            items.push(Item {
                kind: Kind::BuildCache,
                name: c
                    .get("Description")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                size: c
                    .get("Size")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
                id,
                tags: Vec::new(),
                owned: false,
            });
        }
        Ok(Plan {
            items,
            kept_new_images,
            kept_volumes,
        })
    }

    /// Remove exactly the plan's items, in order, each on its own: one
    /// failure is reported and the rest still go.
    pub fn prune(&self, plan: &Plan) -> Vec<Outcome> {
        let d = self.bollard();
        plan.items
            .iter()
            .map(|item| {
                let mut deleted = Vec::new();
                let r: Result<(), bollard::errors::Error> = self.block(async {
                    match item.kind {
                        Kind::Container => {
                            d.remove_container(
                                &item.id,
                                None::<bollard::query_parameters::RemoveContainerOptions>,
                            )
                            .await
                        }
                        Kind::Network => d.remove_network(&item.id).await,
                        Kind::Image => {
                            // Not forced: an image a container took up since
                            // the plan was made stays. Several tags are
                            // removed one by one; the last takes the image.
                            let names: Vec<&str> = if item.tags.is_empty() {
                                vec![item.id.as_str()]
                            } else {
                                item.tags.iter().map(String::as_str).collect()
                            };
                            for n in names {
                                for r in d
                                    .remove_image(
                                        n,
                                        None::<bollard::query_parameters::RemoveImageOptions>,
                                        None,
                                    )
                                    .await?
                                {
                                    deleted.extend(r.deleted);
                                }
                            }
                            Ok(())
                        }
                        Kind::Volume => {
                            d.remove_volume(
                                &item.id,
                                None::<bollard::query_parameters::RemoveVolumeOptions>,
                            )
                            .await
                        }
                        Kind::BuildCache => d
                            .prune_build(Some(bollard::query_parameters::PruneBuildOptions {
                                filters: Some(HashMap::from([(
                                    "id".to_owned(),
                                    vec![item.id.clone()],
                                )])),
                                ..Default::default()
                            }))
                            .await
                            .map(|_| ()),
                    }
                });
                deleted.retain(|id| *id != item.id);
                Outcome {
                    item: item.clone(),
                    error: r.err().map(|e| crate::describe(&e)),
                    deleted,
                }
            })
            .collect()
    }
}
