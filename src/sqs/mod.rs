//! Amazon SQS: typed inputs and outputs (`types`), one function per action
//! (`ops`), the domain model (`model`) and the JSON documents stored as
//! attributes (`policy`).

pub mod model;
pub mod ops;
pub mod policy;
pub mod types;
