//! Which events a destination takes: its `topics`, `routing_keys` and `required_auth_key`.
//! Every destination type filters the same way, so a `kafka` destination given the filters of
//! a `filesystem` one receives exactly the events that one stores.

use super::config::{DestinationConfig, Selection};
use crate::protocol::wire::RoutingKey;
use crate::Topic;

/// A destination's filters.
#[derive(Clone, Debug)]
pub struct DestinationRoute {
    topics: Selection<Topic>,
    routing_keys: Selection<String>,
    /// Index in the event keys of the key it requires.
    required_key: Option<usize>,
}

impl DestinationRoute {
    /// From the destination's config; `required_key` is the index of its `required_auth_key`
    /// among the event keys (see [`super::config::ResolvedKeys`]).
    pub fn new(config: &DestinationConfig, required_key: Option<usize>) -> DestinationRoute {
        DestinationRoute {
            topics: config.topics.clone(),
            routing_keys: config.routing_keys.clone(),
            required_key,
        }
    }

    /// Whether it takes an event of `topic` and `routing_key` sent with event key `key` (an
    /// event without a routing key is taken only by `routing_keys: ALL`).
    pub fn accepts(&self, topic: Topic, routing_key: Option<&RoutingKey>, key: usize) -> bool {
        if self.required_key.is_some_and(|k| k != key) || !self.topics.accepts(&topic) {
            return false;
        }
        match (&self.routing_keys, routing_key) {
            (Selection::All, _) => true,
            (Selection::Only(keys), Some(rk)) => keys.contains(rk.as_str()),
            (Selection::Only(_), None) => false,
        }
    }
}
