//! The asynchronous jobs domain, shared by `jobs-api` (which accepts and queues jobs) and
//! `job-worker` (which runs them).
//!
//! - [`model`]: what a job request is, the job record and its states, the queue message.
//! - [`table`]: the jobs table, where every state change is a conditional write.

pub mod model;
pub mod table;
