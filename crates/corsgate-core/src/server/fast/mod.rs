//! The server role's speed machinery, private to it: what makes the allowed
//! paths cheap, never what they answer. Every part is data owned by one
//! `Policy` (built once with it, dropped with it): no static, no leak, no lock.
//!
//! * `values`: the policy's header values, shared by reference count;
//! * `template`: the policy's prebuilt answers (allowed actual request,
//!   allowed preflight), cloned into an empty response map;
//! * `learned`: the origins a pattern allowed, remembered per origin set;
//! * `table`: the byte-keyed tables (exact origins, listed methods), looked
//!   up with a hash the caller computed once per request value;
//! * `fx`: the hasher of the policy's lookup tables.

pub(crate) mod fx;
pub(crate) mod learned;
pub(crate) mod table;
pub(crate) mod template;
pub(crate) mod values;
