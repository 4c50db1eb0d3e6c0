//! Alert delivery to real webhook receivers.
