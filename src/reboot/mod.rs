//! When a node may reboot: reboot windows (locksmith's and the maintenance-window calendar
//! expression) evaluated in the node's time zone.
