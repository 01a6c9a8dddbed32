//! The end-to-end suite, one test binary: each module below was its own binary, and each
//! linked the whole host (about 380 MB with line tables), so 35 of them filled a CI disk and
//! spent most of the build linking. nextest still runs every test in its own process.

mod abuse;
mod accounts;
mod admin_actions;
mod alerts;
mod alerts_sms;
mod authz;
mod billing;
mod cancelled_begin;
mod commune_page;
mod communes;
mod digests;
mod donation_pages;
mod donations;
mod engagement;
mod feed;
mod fuzz;
mod jobs;
mod layers;
mod media;
mod messages;
mod moderation;
mod module_data;
mod modules;
mod office_hours;
mod officials;
mod path_ids;
mod polls;
mod privacy;
mod profiles;
mod proxy;
mod public_pages;
mod push;
mod push_csrf;
mod sandbox_install;
mod sandbox_queue;
mod sandbox_runtime;
mod sandbox_storage;
mod sandbox_volumes;
mod sandbox_web;
mod sandbox_writer;
mod table_ownership;
mod templates;
mod tenancy;
mod write_transactions;
