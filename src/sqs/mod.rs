//! Amazon SQS: typed inputs and outputs (`types`), one function per action
//! (`ops`), the domain model (`model`) and the JSON documents stored as
//! attributes (`policy`), and the message move tasks that redrive
//! dead-letter queues (`move_tasks`).

pub mod model;
pub mod move_tasks;
pub mod ops;
pub mod policy;
pub mod types;
