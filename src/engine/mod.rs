//! The cluster engine: the pipeline's objects against a live API server.
//! [`kube`] is the only module that speaks HTTP; [`apply`] observes what is
//! live and works out each object's change ([`diff`]), then runs the executor
//! in stages (blocked → applying → waiting, then prune); [`wait`] watches
//! objects until [`readiness`] (pure rules per kind) says they are ready;
//! [`inventory`] keeps each scope's ApplySet; [`status`] and [`forward`] read
//! the same facts for `status` and `port-forward`; [`bundle`] reads them all
//! for `support-bundle`; [`secrets`] creates the Secrets a GitOps
//! directory leaves out. It reports what happens as
//! events and values; the terminal is the front end's business.

pub mod adopt;
pub mod apply;
pub mod bundle;
pub mod diagnosis;
pub mod diff;
pub mod forward;
pub mod inventory;
pub mod kube;
pub mod preflight;
pub mod readiness;
pub mod secrets;
pub mod status;
pub mod timings;
pub mod wait;
