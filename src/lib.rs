//! gongyi: grant management for public-benefit venture philanthropy (公益创投).
//!
//! Layout: `domain` (pure rules), `storage` (diesel), `auth`, `service` (use cases),
//! `http` (actix-web), `notify` (email), `ops` (metrics, retention), `cli`, `startup`, `config`, `telemetry`,
//! `memory` (returning freed memory to the system).

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod i18n;
pub mod memory;
pub mod notify;
pub mod ops;
pub mod service;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;
