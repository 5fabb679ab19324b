//! Unit tests of the hashmap state machines.
