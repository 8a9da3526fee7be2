//! Following the Engine's events stream: health changes (and the state
//! changes that go with them: start, die, restart) as they happen.

use std::collections::HashMap;
use std::ops::ControlFlow;

use futures::StreamExt;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::inventory::Health;

/// One change `watch` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// When the Engine saw it, in nanoseconds since the epoch.
    pub time_nanos: i64,
    /// The container's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What happened: `health_status`, `start`, `die`, `restart`, `oom`, `destroy`.
    pub action: String,
    /// Health before, as far as this watch knows.
    pub from: Option<Health>,
    /// Health after (for health events).
    pub to: Option<Health>,
    /// Exit code (for `die`).
    pub exit_code: Option<i64>,
}

fn parse_health(s: &str) -> Option<Health> {
    match s.trim() {
        "healthy" => Some(Health::Healthy),
        "unhealthy" => Some(Health::Unhealthy),
        "starting" => Some(Health::Starting),
        _ => None,
    }
}

impl Engine {
    /// Follow container events and call `on` for each health or state
    /// change until it returns `Break`. `since` (seconds since the epoch)
    /// replays events from that time, so nothing between a snapshot and the
    /// watch is missed.
    ///
    /// # Errors
    /// When the stream cannot be opened, fails, or ends.
    pub fn watch(
        &self,
        since: Option<i64>,
        mut on: impl FnMut(Change) -> ControlFlow<()>,
    ) -> Result<(), EngineError> {
        let mut known: HashMap<String, Health> = HashMap::new();
        if let Ok(report) = self.health() {
            for c in report.containers {
                known.insert(c.id, c.health);
            }
        }
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            (
                "event".to_owned(),
                ["health_status", "start", "die", "restart", "oom", "destroy"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
        ]);
        let opts = bollard::query_parameters::EventsOptions {
            since: since.map(|s| s.to_string()),
            until: None,
            filters: Some(filters),
        };
        self.block(async {
            let mut stream = self.bollard().events(Some(opts));
            while let Some(ev) = stream.next().await {
                let ev = ev.map_err(|source| EngineError::Api {
                    what: "follow events",
                    source,
                })?;
                let Some(actor) = ev.actor else { continue };
                let id = actor.id.unwrap_or_default();
                let attrs = actor.attributes.unwrap_or_default();
                let raw = ev.action.unwrap_or_default();
                // Health events come as "health_status: healthy".
                let (action, to) = match raw.split_once(':') {
                    Some((a, h)) => (a.to_owned(), parse_health(h)),
                    None => (raw.clone(), None),
                };
                let from = known.get(&id).copied();
                if let Some(h) = to {
                    known.insert(id.clone(), h);
                }
                if action == "destroy" {
                    known.remove(&id);
                }
                let change = Change {
                    time_nanos: ev.time_nano.unwrap_or(0),
                    name: attrs.get("name").cloned().unwrap_or_default(),
                    id,
                    action: action.clone(),
                    from,
                    to,
                    exit_code: attrs.get("exitCode").and_then(|c| c.parse().ok()),
                };
                if on(change).is_break() {
                    return Ok(());
                }
            }
            Err(EngineError::EventsEnded)
        })
    }
}
