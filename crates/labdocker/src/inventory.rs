//! Containers as the lab sees them: state and health from inspect (the list
//! call does not carry health on older engines), restart counts, ports and
//! networks; and the verdict `health` gives.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use futures::StreamExt;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::EngineError;

/// How many inspect calls are in flight at once.
const PARALLEL: usize = 16;

/// A container's health as its healthcheck reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Health {
    /// No healthcheck.
    None,
    /// Within its start period.
    Starting,
    /// Passing.
    Healthy,
    /// Failing.
    Unhealthy,
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Port {
    /// The container's port and protocol, `80/tcp`.
    pub container: String,
    /// The host address it is bound to (`0.0.0.0` for all).
    pub host_ip: String,
    /// The host port.
    pub host_port: String,
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Container {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The image as configured.
    pub image: String,
    /// `running`, `exited`, `restarting`, ...
    pub state: String,
    /// Health.
    pub health: Health,
    /// Consecutive failed healthchecks.
    pub failing_streak: i64,
    /// Restarts since it was created.
    pub restart_count: i64,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Published ports.
    pub ports: Vec<Port>,
    /// Networks, by name, with the container's address on each.
    pub networks: BTreeMap<String, String>,
    /// Whether labdocker created it.
    pub owned: bool,
}

impl Container {
    /// Why this container makes `health` fail, if it does.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.health == Health::Unhealthy {
            return Some(format!(
                "unhealthy ({} failed checks in a row)",
                self.failing_streak
            ));
        }
        if self.state == "restarting" {
            return Some(format!(
                "restarting (restarted {} times, last exit code {})",
                self.restart_count, self.exit_code
            ));
        }
        if self.state == "dead" {
            return Some("dead".to_owned());
        }
        None
    }
}

/// What `health` decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// Every container, by name.
    pub containers: Vec<Container>,
    /// Names of containers that are unhealthy, restarting or dead.
    pub failing: Vec<String>,
}

impl HealthReport {
    /// Build the verdict over `containers`.
    #[must_use]
    pub fn new(mut containers: Vec<Container>) -> Self {
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let failing = containers
            .iter()
            .filter(|c| c.problem().is_some())
            .map(|c| c.name.clone())
            .collect();
        Self {
            containers,
            failing,
        }
    }

    /// Whether nothing fails.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failing.is_empty()
    }
}

/// The facts of one inspect answer.
#[must_use]
pub fn from_inspect(i: &ContainerInspectResponse) -> Container {
    let state = i.state.as_ref();
    let health = state.and_then(|s| s.health.as_ref());
    let config = i.config.as_ref();
    let mut ports = Vec::new();
    if let Some(map) = i.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        for (container, bindings) in map {
            for b in bindings.iter().flatten() {
                ports.push(Port {
                    container: container.clone(),
                    host_ip: b.host_ip.clone().unwrap_or_default(),
                    host_port: b.host_port.clone().unwrap_or_default(),
                });
            }
        }
    }
    ports.sort_by(|a, b| (&a.container, &a.host_ip).cmp(&(&b.container, &b.host_ip)));
    let networks = i
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| {
            n.iter()
                .map(|(k, v)| (k.clone(), v.ip_address.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Container {
        id: i.id.clone().unwrap_or_default(),
        name: i
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: config.and_then(|c| c.image.clone()).unwrap_or_default(),
        state: state
            .and_then(|s| s.status)
            .map_or_else(String::new, |s| s.to_string()),
        health: match health.and_then(|h| h.status) {
            Some(HealthStatusEnum::STARTING) => Health::Starting,
            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
            _ => Health::None,
        },
        failing_streak: health.and_then(|h| h.failing_streak).unwrap_or(0),
        restart_count: i.restart_count.unwrap_or(0),
        exit_code: state.and_then(|s| s.exit_code).unwrap_or(0),
        ports,
        networks,
        owned: crate::engine::owned(config.and_then(|c| c.labels.as_ref())),
    }
}

impl Engine {
    /// Inspect every container, running or not.
    ///
    /// # Errors
    /// When the Engine cannot list or inspect them. A container removed
    /// between the list and its inspect is left out.
    pub fn inspect_all(&self) -> Result<Vec<ContainerInspectResponse>, EngineError> {
        let docker = self.bollard();
        self.block(async {
            let list = docker
                .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                    all: true,
                    ..Default::default()
                }))
                .await
                .map_err(|source| EngineError::Api {
                    what: "list containers",
                    source,
                })?;
            let ids: Vec<String> = list.into_iter().filter_map(|c| c.id).collect();
            let answers: Vec<_> = futures::stream::iter(ids)
                .map(|id| async move {
                    docker
                        .inspect_container(
                            &id,
                            None::<bollard::query_parameters::InspectContainerOptions>,
                        )
                        .await
                })
                .buffered(PARALLEL)
                .collect()
                .await;
            let mut out = Vec::new();
            for a in answers {
                match a {
                    Ok(i) => out.push(i),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(source) => {
                        return Err(EngineError::Api {
                            what: "inspect a container",
                            source,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    /// Every container with its health, and the verdict.
    ///
    /// # Errors
    /// As [`Engine::inspect_all`].
    pub fn health(&self) -> Result<HealthReport, EngineError> {
        Ok(HealthReport::new(
            self.inspect_all()?.iter().map(from_inspect).collect(),
        ))
    }
}
