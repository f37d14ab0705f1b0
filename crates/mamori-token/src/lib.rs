#![doc = include_str!("../README.md")]

pub mod approval;
pub mod cli;
pub mod client;
pub mod code;
pub mod file;

pub use cli::{Console, TokenArgs, TokenCommand, TokenError, run};
