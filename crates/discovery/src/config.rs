//! [`MdnsConfig`] (also at the crate root) and what sits beside it: the
//! [`InterfaceSelection`] behind [`MdnsConfig::with_interfaces`], the
//! defaults it starts from (`DEFAULT_*`), the service-name bound its
//! validation enforces ([`SERVICE_NAME_MAX_LEN`]) and that validation on its
//! own ([`validate_service_type`]). A node only needs [`MdnsConfig`]; the
//! rest is for code that checks or reports a setting (tools, tests). The
//! settings are explained in `docs/discovery.md`.

pub use crate::mdns::{
    validate_service_type, InterfaceSelection, MdnsConfig, DEFAULT_EVENT_CAPACITY,
    DEFAULT_MDNS_PORT, DEFAULT_SHUTDOWN_TIMEOUT, SERVICE_NAME_MAX_LEN,
};
