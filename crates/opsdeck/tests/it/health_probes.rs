//! Every probe type against the real dependency on 127.0.0.1.
