//! tower middleware enforcing a corsgate policy (work in progress).
