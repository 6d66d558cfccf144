//! Integration tests over real HTTP against a real Postgres; see helpers.rs.

mod applications;
mod auth;
mod health;
mod helpers;
mod organizations;
mod review;
mod rounds;
