//! The checks over a whole config, one file per rule (the rule's text is in
//! [`crate::rules`]), and [`CHECKS`], the order they run in.

pub mod etcd_discovery_url;
pub mod locksmith_window_ignored;
pub mod locksmith_window_pair;
pub mod manage_etc_hosts;
mod shared;
pub mod structure_line_break;
pub mod structure_unknown_key;
pub mod substitution_variable;
pub mod units_drop_in_incomplete;
pub mod units_drop_in_name;
pub mod units_duplicate_name;
pub mod units_enable_without_install;
pub mod units_exec_not_executable;
pub mod units_invalid_value;
pub mod units_missing_exec_start;
pub mod units_missing_name;
pub mod units_name;
pub mod units_network_command;
pub mod units_section;
pub mod units_service_refused;
pub mod units_timer_never_started;
pub mod units_timer_target;
pub mod units_unknown_directive;
pub mod update_agent;
pub mod update_agent_setting_ignored;
pub mod update_check_timing;
pub mod update_duplicate_signing_key;
pub mod update_etcd_lock_without_etcd;
pub mod update_health_check;
pub mod update_insecure_server;
pub mod update_maintenance_window;
pub mod update_no_signing_keys;
pub mod update_reboot_hooks;
pub mod update_reboot_manager;
pub mod update_signing_key;
pub mod users_missing_name;
pub mod write_files_duplicate_path;
pub mod write_files_generated_conflict;
pub mod write_files_missing_content;
pub mod write_files_missing_path;
pub mod write_files_read_only;
pub mod write_files_special_bits;
pub mod write_files_undecodable;

use crate::check::Context;
use crate::diagnostic::Finding;

/// A check over a whole config.
pub type Check = fn(&Context<'_>, &mut Vec<Finding>);

/// The checks run on every cloud-config after the structure walk.
pub static CHECKS: &[Check] = &[
    structure_line_break::check,
    update_maintenance_window::check,
    update_agent::check_units,
    update_signing_key::check,
    update_duplicate_signing_key::check,
    update_no_signing_keys::check,
    update_health_check::check,
    update_check_timing::check_interval,
    update_agent_setting_ignored::check,
    update_reboot_manager::check,
    update_reboot_hooks::check,
    locksmith_window_pair::check,
    units_missing_name::check,
    units_duplicate_name::check,
    units_drop_in_incomplete::check,
    units_section::check,
    units_name::check,
    units_unknown_directive::check,
    units_invalid_value::check,
    units_missing_exec_start::check,
    units_service_refused::check,
    units_enable_without_install::check,
    units_network_command::check,
    units_drop_in_name::check,
    units_timer_target::check,
    units_timer_never_started::check,
    write_files_missing_path::check,
    write_files_missing_content::check,
    write_files_duplicate_path::check,
    write_files_undecodable::check,
    write_files_read_only::check,
    write_files_special_bits::check,
    users_missing_name::check,
    manage_etc_hosts::check,
    etcd_discovery_url::check,
    units_exec_not_executable::check,
    update_etcd_lock_without_etcd::check,
    update_insecure_server::check,
    substitution_variable::check,
    write_files_generated_conflict::check,
    locksmith_window_ignored::check,
];
