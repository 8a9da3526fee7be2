//! A single-node Swarm initialised with the lab's address pool (a plain
//! `docker swarm init` takes 10.0.0.0/8 and puts ingress on 10.0.0.0/24,
//! inside the reference lab's Management segment), its status, leaving it
//! (with `docker_gwbridge`), and services labdocker deploys and owns.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    SwarmInitRequest, TaskSpec, TaskSpecContainerSpec,
};
use serde::Serialize;

use crate::engine::{Engine, OWNER, OWNER_LABEL};
use crate::error::EngineError;
use crate::model::Swarm;

fn api(what: &'static str) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    move |source| EngineError::Api { what, source }
}

/// A port a service publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Publish {
    /// The address to bind to; Swarm can only publish on every address.
    pub address: Ipv4Addr,
    /// Port on the host.
    pub published: u16,
    /// Port in the container.
    pub target: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

impl std::str::FromStr for Publish {
    type Err = String;
    /// `[ADDRESS:]PUBLISHED:TARGET[/PROTOCOL]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (ports, protocol) = s.split_once('/').unwrap_or((s, "tcp"));
        if !matches!(protocol, "tcp" | "udp" | "sctp") {
            return Err(format!("{protocol:?} is not tcp, udp or sctp"));
        }
        let parts: Vec<&str> = ports.split(':').collect();
        let (address, published, target) = match parts.as_slice() {
            [p, t] => (Ipv4Addr::UNSPECIFIED, *p, *t),
            [a, p, t] => (
                a.parse()
                    .map_err(|_| format!("{a:?} is not an IPv4 address"))?,
                *p,
                *t,
            ),
            _ => {
                return Err(format!(
                    "{s:?} is not [ADDRESS:]PUBLISHED:TARGET[/PROTOCOL]"
                ));
            }
        };
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{p:?} is not a port from 1 to 65535"))
        };
        Ok(Self {
            address,
            published: port(published)?,
            target: port(target)?,
            protocol: protocol.to_owned(),
        })
    }
}

/// A service to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Service {
    /// Its name.
    pub name: String,
    /// The image.
    pub image: String,
    /// How many tasks.
    pub replicas: u32,
    /// Published ports.
    pub publish: Vec<Publish>,
    /// Networks (overlay networks that do not exist are created, owned).
    pub networks: Vec<String>,
    /// Labels (labdocker's owner label is added).
    pub labels: HashMap<String, String>,
}

impl Service {
    /// A service of `image` with one replica.
    #[must_use]
    pub fn new(name: &str, image: &str) -> Self {
        Self {
            name: name.to_owned(),
            image: image.to_owned(),
            replicas: 1,
            publish: Vec::new(),
            networks: Vec::new(),
            labels: HashMap::new(),
        }
    }
}

/// One task of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Replica slot.
    pub slot: i64,
    /// Its state: `running`, `failed`, ...
    pub state: String,
    /// The state Swarm wants.
    pub desired: String,
    /// Swarm's message.
    pub message: String,
    /// The error, if it failed.
    pub error: Option<String>,
    /// The container running it.
    pub container: Option<String>,
}

/// A service and its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// Service id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Replicas asked for.
    pub replicas: i64,
    /// Tasks that run.
    pub running: usize,
    /// Whether labdocker owns it.
    pub owned: bool,
    /// Every task Swarm keeps.
    pub tasks: Vec<Task>,
}

/// The Swarm as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SwarmStatus {
    /// `inactive`, `active`, `pending`, `error`, `locked`.
    pub state: String,
    /// This node.
    pub node_id: Option<String>,
    /// Its address.
    pub node_addr: Option<String>,
    /// The pools overlay networks are cut from.
    pub default_addr_pool: Vec<String>,
    /// Their prefix length.
    pub subnet_size: Option<u32>,
    /// The ingress network's subnets.
    pub ingress: Vec<String>,
    /// Services.
    pub services: Vec<ServiceStatus>,
}

fn task(t: bollard::models::Task) -> Task {
    let st = t.status.unwrap_or_default();
    Task {
        id: t.id.unwrap_or_default(),
        slot: t.slot.unwrap_or(0),
        state: st.state.map_or_else(String::new, |s| s.to_string()),
        desired: t.desired_state.map_or_else(String::new, |s| s.to_string()),
        message: st.message.unwrap_or_default(),
        error: st.err,
        container: st.container_status.and_then(|c| c.container_id),
    }
}

impl Engine {
    /// Initialise a single-node Swarm with the lab's pool, advertising
    /// `advertise` (an address of this host).
    ///
    /// # Errors
    /// When the Engine refuses (already in a Swarm, address not local).
    pub fn swarm_init(&self, swarm: &Swarm, advertise: &str) -> Result<String, EngineError> {
        let req = SwarmInitRequest {
            listen_addr: Some(format!("{advertise}:2377")),
            advertise_addr: Some(advertise.to_owned()),
            default_addr_pool: Some(vec![swarm.address_pool.to_string()]),
            subnet_size: Some(u32::from(swarm.subnet_size)),
            spec: Some(bollard::models::SwarmSpec {
                labels: Some(HashMap::from([(OWNER_LABEL.to_owned(), OWNER.to_owned())])),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.block(self.bollard().init_swarm(req))
            .map_err(api("initialise a Swarm"))
    }

    /// The Swarm and its services.
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn swarm_status(&self) -> Result<SwarmStatus, EngineError> {
        let d = self.bollard();
        let info = self.block(d.info()).map_err(api("describe itself"))?;
        let s = info.swarm.unwrap_or_default();
        let state = s
            .local_node_state
            .map_or_else(|| "inactive".to_owned(), |v| v.to_string());
        let mut st = SwarmStatus {
            state,
            node_id: s.node_id.filter(|n| !n.is_empty()),
            node_addr: s.node_addr.filter(|n| !n.is_empty()),
            default_addr_pool: Vec::new(),
            subnet_size: None,
            ingress: Vec::new(),
            services: Vec::new(),
        };
        if st.state != "active" {
            return Ok(st);
        }
        let sw = self
            .block(d.inspect_swarm())
            .map_err(api("describe the Swarm"))?;
        st.default_addr_pool = sw.default_addr_pool.unwrap_or_default();
        st.subnet_size = sw.subnet_size;
        if let Ok(n) = self.block(d.inspect_network(
            "ingress",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )) {
            st.ingress = n
                .ipam
                .and_then(|i| i.config)
                .into_iter()
                .flatten()
                .filter_map(|c| c.subnet)
                .collect();
        }
        let services = self
            .block(d.list_services(None::<bollard::query_parameters::ListServicesOptions>))
            .map_err(api("list services"))?;
        for svc in services {
            let spec = svc.spec.unwrap_or_default();
            let name = spec.name.unwrap_or_default();
            let tasks = self.service_tasks(&name)?;
            st.services.push(ServiceStatus {
                id: svc.id.unwrap_or_default(),
                replicas: spec
                    .mode
                    .and_then(|m| m.replicated)
                    .and_then(|r| r.replicas)
                    .unwrap_or(0),
                running: tasks.iter().filter(|t| t.state == "running").count(),
                owned: crate::engine::owned(spec.labels.as_ref()),
                name,
                tasks,
            });
        }
        st.services.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(st)
    }

    /// The tasks of service `name`, by slot.
    ///
    /// # Errors
    /// When the Engine does not answer.
    pub fn service_tasks(&self, name: &str) -> Result<Vec<Task>, EngineError> {
        let filters = HashMap::from([("service".to_owned(), vec![name.to_owned()])]);
        let mut tasks: Vec<Task> =
            self.block(self.bollard().list_tasks(Some(
                bollard::query_parameters::ListTasksOptions {
                    filters: Some(filters),
                },
            )))
            .map_err(api("list tasks"))?
            .into_iter()
            .map(task)
            .collect();
        tasks.sort_by(|a, b| (a.slot, &a.id).cmp(&(b.slot, &b.id)));
        Ok(tasks)
    }

    /// Deploy `svc` (owned by labkit), creating its missing overlay
    /// networks (owned too), and wait up to `wait` for its tasks to run.
    ///
    /// # Errors
    /// When a port asks for an address (Swarm publishes on every address:
    /// moby/moby#26696), the node is not a Swarm manager, or the Engine
    /// refuses the service.
    pub fn deploy(&self, svc: &Service, wait: Duration) -> Result<ServiceStatus, EngineError> {
        if let Some(p) = svc.publish.iter().find(|p| !p.address.is_unspecified()) {
            return Err(EngineError::Service {
                service: svc.name.clone(),
                reason: format!(
                    "Swarm cannot bind a published port to one address ({}:{}): its API has no host address for service ports (moby/moby#26696); publish {}:{} on every address and limit who reaches it with the lab's segment rules, or run a plain container",
                    p.address, p.published, p.published, p.target
                ),
            });
        }
        let d = self.bollard();
        if self.swarm_status()?.state != "active" {
            return Err(EngineError::NoSwarm);
        }
        let owner = HashMap::from([(OWNER_LABEL.to_owned(), OWNER.to_owned())]);
        for net in &svc.networks {
            let exists = self
                .block(d.inspect_network(
                    net,
                    None::<bollard::query_parameters::InspectNetworkOptions>,
                ))
                .is_ok();
            if !exists {
                self.block(d.create_network(bollard::models::NetworkCreateRequest {
                    name: net.clone(),
                    driver: Some("overlay".to_owned()),
                    attachable: Some(true),
                    labels: Some(owner.clone()),
                    ..Default::default()
                }))
                .map_err(api("create an overlay network"))?;
            }
        }
        let mut labels = svc.labels.clone();
        labels.extend(owner);
        let spec = ServiceSpec {
            name: Some(svc.name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(svc.image.clone()),
                    labels: Some(labels),
                    ..Default::default()
                }),
                networks: Some(
                    svc.networks
                        .iter()
                        .map(|n| NetworkAttachmentConfig {
                            target: Some(n.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(i64::from(svc.replicas)),
                }),
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                ports: Some(
                    svc.publish
                        .iter()
                        .map(|p| EndpointPortConfig {
                            protocol: Some(match p.protocol.as_str() {
                                "udp" => EndpointPortConfigProtocolEnum::UDP,
                                "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                                _ => EndpointPortConfigProtocolEnum::TCP,
                            }),
                            target_port: Some(i64::from(p.target)),
                            published_port: Some(i64::from(p.published)),
                            publish_mode: Some(EndpointPortConfigPublishModeEnum::INGRESS),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.block(d.create_service(spec, None))
            .map_err(api("create the service"))?;
        let start = Instant::now();
        loop {
            let st = self.swarm_status()?;
            let mine = st.services.into_iter().find(|s| s.name == svc.name);
            if let Some(s) = mine {
                let replicas = usize::try_from(s.replicas).unwrap_or(0);
                if s.running >= replicas || start.elapsed() >= wait {
                    return Ok(s);
                }
            }
            if start.elapsed() >= wait {
                return Err(EngineError::Service {
                    service: svc.name.clone(),
                    reason: "it is not listed after being created".to_owned(),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Remove service `name` if labdocker owns it.
    ///
    /// # Errors
    /// When it is not labkit's, or the Engine refuses.
    pub fn remove_service(&self, name: &str) -> Result<(), EngineError> {
        let d = self.bollard();
        let svc = self
            .block(d.inspect_service(
                name,
                None::<bollard::query_parameters::InspectServiceOptions>,
            ))
            .map_err(api("inspect the service"))?;
        if !crate::engine::owned(svc.spec.as_ref().and_then(|s| s.labels.as_ref())) {
            return Err(EngineError::NotOwned {
                kind: "service",
                name: name.to_owned(),
            });
        }
        self.block(d.delete_service(name))
            .map_err(api("remove the service"))
    }

    /// Leave the Swarm (forced: a single-node manager cannot leave
    /// otherwise) and remove `docker_gwbridge`, which Docker leaves behind.
    /// Returns whether the bridge was removed.
    ///
    /// # Errors
    /// When the node is not in a Swarm or the Engine refuses.
    pub fn swarm_leave(&self) -> Result<bool, EngineError> {
        let d = self.bollard();
        if self.swarm_status()?.state == "inactive" {
            return Err(EngineError::NoSwarm);
        }
        self.block(
            d.leave_swarm(Some(bollard::query_parameters::LeaveSwarmOptions {
                force: true,
            })),
        )
        .map_err(api("leave the Swarm"))?;
        // Task containers go asynchronously; the bridge can only go after them.
        let start = Instant::now();
        loop {
            match self.block(d.remove_network("docker_gwbridge")) {
                Ok(()) => return Ok(true),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(false),
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    return Err(EngineError::Api {
                        what: "remove docker_gwbridge",
                        source: e,
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Publish;
    use std::net::Ipv4Addr;

    #[test]
    fn publish_syntax() {
        let p: Publish = "8080:80".parse().expect("valid");
        assert_eq!(
            (p.address, p.published, p.target, p.protocol.as_str()),
            (Ipv4Addr::UNSPECIFIED, 8080, 80, "tcp")
        );
        let p: Publish = "10.0.1.5:53:53/udp".parse().expect("valid");
        assert_eq!(
            (p.address, p.protocol.as_str()),
            (Ipv4Addr::new(10, 0, 1, 5), "udp")
        );
        assert!("80".parse::<Publish>().is_err());
        assert!("0:80".parse::<Publish>().is_err());
        assert!("x:1:2".parse::<Publish>().is_err());
        assert!("1:2/icmp".parse::<Publish>().is_err());
    }
}
