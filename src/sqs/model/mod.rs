//! The SQS domain model: queues, messages and attributes. No I/O, no wire
//! formats, no global time: callers pass `now` from the `Clock`.

pub mod attributes;
pub mod message;
pub mod queue;
