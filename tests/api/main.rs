//! Integration tests over real HTTP against a real Postgres; see helpers.rs.

mod auth;
mod health;
mod helpers;
mod organizations;
