//! Conformance of `aegis sim`'s raw REST and WebSocket answers to ../shared/kis-api (REFERENCE.md
//! §2 auth, §3 REST conventions, §4 endpoints, §6 WebSocket, §9 fake-server checklist;
//! rest_endpoints.json, ws_fields.json, error_codes.json). Written from those documents, not from
//! `src/sim`: only `Sim::start(SimConfig)` and the `SimHandle` clock controls are used, HTTP is
//! spoken by hand over a `TcpStream` so that header names are seen byte for byte.

mod envelope;
mod headers;
mod order_numbers;
mod overseas;
mod paging;
mod token;
mod wire;
mod ws;
