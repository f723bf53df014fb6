//! The asynchronous jobs domain, shared by `jobs-api` (which accepts and queues jobs) and
//! `job-worker` (which runs them).
//!
//! - [`model`]: what a job request is, the job record and its states, the queue message.
//! - [`kinds`]: the kinds of job, each in one module (its typed input and its run), registered once.
//! - [`store`]: what a jobs store answers (start and finish outcomes, errors): the ports' types.
//! - [`table`]: the jobs table, where every state change is a conditional write.

pub mod kinds;
pub mod model;
pub mod store;
pub mod table;
