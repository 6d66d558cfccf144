//! Integration tests over real HTTP against a real Postgres; see helpers.rs.

mod applications;
mod audit;
mod auth;
mod health;
mod helpers;
mod notify;
mod organizations;
mod rounds;
mod smtp;
