//! Conformance harness (work in progress).
