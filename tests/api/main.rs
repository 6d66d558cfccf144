//! Integration tests over real HTTP against a real Postgres; see helpers.rs.

mod applications;
mod auth;
mod grants;
mod health;
mod helpers;
mod organizations;
mod payouts;
mod review;
mod rounds;
