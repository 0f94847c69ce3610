//! inspect, check and plan through the real binary, on pasted evidence.
