//! Integration tests over real HTTP against a real Postgres; see helpers.rs.

mod applications;
mod attachments;
mod audit;
mod auth;
mod authz;
mod browser;
mod grants;
mod health;
mod helpers;
mod hostile;
mod limits;
mod notify;
mod ops;
mod organizations;
mod payouts;
mod review;
mod rounds;
mod smtp;
mod spending;
mod web;
mod web_finance;
mod web_office;
mod web_oversight;
mod web_registry;
mod web_spending;
