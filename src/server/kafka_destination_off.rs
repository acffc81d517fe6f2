//! `kafka` destinations in a build without the cargo feature `kafka`: there is no Kafka client
//! in the binary, and the config check refuses `type: kafka` with a message saying to build
//! with `--features kafka` (see [`super::config`]). So no value of these types ever exists;
//! they only let the writer ([`super::store`]) be the same code in both builds.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::time::SystemTime;

use super::config::DestinationConfig;
use super::failure::GroupFailure;
use super::metrics::Metrics;
use crate::encode::Timezone;
use crate::protocol::wire::{Item, RoutingKey};
use crate::Topic;

/// A `kafka` destination: none can exist in this build.
pub enum KafkaDestination {}

/// One group's messages for a `kafka` destination: always empty in this build.
#[derive(Default)]
pub struct KafkaBatch<'a>(PhantomData<&'a Item>);

impl KafkaBatch<'_> {
    /// Always true: nothing is ever rendered.
    pub fn is_empty(&self) -> bool {
        true
    }
}

/// Messages in flight: none can exist in this build.
pub enum InFlight {}

impl KafkaDestination {
    /// Always an error: this build has no Kafka client.
    pub fn new(
        config: &DestinationConfig,
        _required_key: Option<usize>,
    ) -> Result<KafkaDestination, String> {
        Err(format!(
            "destination `{}`: `kafka` destinations need a log4rs-audit built with the `kafka` feature (cargo build --features kafka)",
            config.name
        ))
    }

    /// Unreachable: no destination exists.
    pub fn accepts(&self, _: Topic, _: Option<&RoutingKey>, _: usize) -> bool {
        match *self {}
    }

    /// Unreachable: no destination exists.
    pub fn render<'a>(
        &self,
        _: &mut KafkaBatch<'a>,
        _: &'a Item,
        _: (IpAddr, SystemTime, Timezone),
        _: (usize, usize),
    ) {
        match *self {}
    }

    /// Unreachable: no destination exists.
    pub fn send(&mut self, _: &KafkaBatch<'_>, _: &Metrics) -> Result<InFlight, GroupFailure> {
        match *self {}
    }

    /// Unreachable: no destination exists.
    pub fn finish(
        &mut self,
        flight: InFlight,
        _: &KafkaBatch<'_>,
        _: &Metrics,
    ) -> Result<(), GroupFailure> {
        match flight {}
    }
}
