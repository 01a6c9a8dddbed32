//! The command-line tests, one test binary (each binary links the whole host).

mod cli;
mod commands;
mod demo;
mod module_install_cli;
