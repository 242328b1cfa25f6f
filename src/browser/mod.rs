//! The browser side: finding and starting Chromium, the supervised instance, and the executor
//! with one file per tool.

pub mod checkpoint;
pub mod chrome;
pub mod content;
pub mod debug;
pub mod emulate;
pub mod execute;
pub mod executor;
pub mod external;
pub mod frames;
pub mod inspect;
pub mod instance;
pub mod interact;
pub mod leftovers;
pub mod navigate;
pub mod network;
pub mod policy;
pub mod tab;

pub use checkpoint::{Checkpoint, RestoreReport};
pub use chrome::{find_chrome, BrowserSource, LaunchOptions};
pub use executor::{Executor, Outcome};
pub use inspect::PageFacts;
pub use instance::{BrowserInstance, Health};
pub use leftovers::remove_leftovers;
pub use policy::{OriginRule, Policy, Uploads};
