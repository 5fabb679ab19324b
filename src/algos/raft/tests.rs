//! Unit tests of the Raft state machine: exact effects of each handler.
