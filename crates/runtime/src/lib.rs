//! skiff's container runtime, used by the node agent: images (`image`) and containers
//! (`container`). It knows nothing of the Kubernetes API.

pub mod container;
pub mod image;
