//! The reboot lock held across a reboot: the reboot step records the slot it won
//! (`lock_held`) and keeps it through the reboot, so a node that never comes back keeps its
//! slot visible instead of letting the next node go. On the next boot the agent re-attaches
//! the hold as soon as it starts (`reattach_lock`: on etcd v3 a new lease, before the
//! health check) and gives the slot back once the new release was judged (`release_lock`).
//! Every reboot path records the slot on the node too ([`crate::lock::HeldSlot`], written
//! before the reboot by the agent, `kindling lock reboot` and the reboot manager);
//! `release_after_boot`, the one after-boot entry point, gives back whichever is held, on
//! the backend the record names, once the boot was judged healthy and the post-boot hook
//! (`hooks`) succeeded.

use super::driver::Agent;
use super::error::Error;

impl Agent {
    /// Re-attach a slot held across the reboot, as soon as the agent starts: before the
    /// health check, which with a slow boot could otherwise outlast the lease the previous
    /// boot's agent kept alive and let another node take the slot while this one is still
    /// mid-update (etcd v3; other backends' holds do not expire). It runs as its own task,
    /// beside the after-boot step (whose health check runs off the runtime thread), so it
    /// adds no wait to a quick boot; [`Agent::settle_reattach`] joins it. The lock object is
    /// then kept in the agent (its keep-alive runs until the slot is given back). A hold that
    /// is gone or a lock that cannot be reached (or set up) is said and left to
    /// [`Agent::release_lock`]; it never stops the after-boot step.
    pub fn reattach_lock(&mut self) {
        if self.record.memory.lock_held.is_none()
            || self.held_lock.is_some()
            || self.renewing.is_some()
        {
            return;
        }
        let keys = self.reboot_keys();
        let config = match self.lock_config(&keys) {
            Ok(Some(config)) => config,
            Ok(None) => return,
            Err(e) => {
                self.say_line(&format!(
                    "cannot renew the reboot slot held across the reboot: {e}"
                ));
                return;
            }
        };
        let id = self.identity.machine_id.clone();
        self.renewing = Some(tokio::spawn(async move {
            let lock = match crate::lock::connect(&config).await {
                Ok(lock) => lock,
                Err(e) => {
                    return (
                        None,
                        format!(
                            "cannot reach the reboot lock to renew the slot held across the reboot ({e}); it is given back later"
                        ),
                    );
                }
            };
            match lock.reattach(&id).await {
                Ok(crate::lock::Reattached::Renewed) => {
                    let line = format!(
                        "renewed the reboot slot held across the reboot: {}",
                        lock.describe()
                    );
                    (Some(lock), line)
                }
                Ok(crate::lock::Reattached::Unneeded) => (Some(lock), String::new()),
                Ok(crate::lock::Reattached::NotHeld) => (
                    None,
                    format!(
                        "the reboot slot held across the reboot is no longer held ({}): it was taken back meanwhile",
                        lock.describe()
                    ),
                ),
                Err(e) => (
                    None,
                    format!(
                        "could not renew the reboot slot held across the reboot ({e}); it is given back later"
                    ),
                ),
            }
        }));
    }

    /// Wait for the re-attachment [`Agent::reattach_lock`] started (a few etcd round trips),
    /// log what it did and keep its lock.
    pub async fn settle_reattach(&mut self) {
        let Some(task) = self.renewing.take() else {
            return;
        };
        match task.await {
            Ok((lock, line)) => {
                if !line.is_empty() {
                    self.say_line(&line);
                }
                if lock.is_some() {
                    self.held_lock = lock;
                }
            }
            Err(e) => self.say_line(&format!(
                "the renewal of the reboot slot held across the reboot failed ({e}); it is given back later"
            )),
        }
    }

    /// After a boot judged healthy with nothing staged, give back whatever slot this
    /// machine held across the reboot: the agent's own (its record) or one recorded on the
    /// node by another reboot path (`kindling lock reboot`, the reboot manager), on the
    /// backend that record names. The one function every after-boot path calls.
    ///
    /// # Errors
    /// When the lock settings cannot be used or a record cannot be saved.
    pub async fn release_after_boot(&mut self) -> Result<(), Error> {
        if self.record.state.staged().is_some() || !self.marked_good_this_boot() {
            return Ok(());
        }
        // The post-boot hook first (`hooks`): a node it fails for is not back in service
        // and keeps its slot.
        if !self.post_boot_hook().await? {
            return Ok(());
        }
        self.give_back_held_slot().await
    }

    /// Give back whatever slot this machine held across the reboot (the agent's own, or one
    /// recorded on the node by another reboot path), for a caller that judged this boot
    /// healthy itself (the reboot manager, beside update_engine).
    ///
    /// # Errors
    /// When the lock settings cannot be used or a record cannot be saved.
    pub async fn give_back_held_slot(&mut self) -> Result<(), Error> {
        if self.record.memory.lock_held.is_some() {
            return self.release_lock().await;
        }
        self.release_recorded().await
    }

    /// Give back a slot recorded on the node ([`crate::lock::HeldSlot`]) by a reboot path
    /// other than this agent's, once the boot after it came: the record names the holder and
    /// the semaphore; a password comes from the node's settings. A failure leaves the
    /// record, and the next run tries again.
    async fn release_recorded(&mut self) -> Result<(), Error> {
        let root = self.root.path().to_path_buf();
        let held = match crate::lock::HeldSlot::read(&root) {
            Ok(Some(held)) => held,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.say_line(&format!("cannot read the reboot slot's record: {e}"));
                return Ok(());
            }
        };
        if !held.rebooted_since(&self.identity.boot_id) {
            // Taken in this boot: the reboot it was taken for has not happened yet.
            return Ok(());
        }
        let password = self.reboot_keys().remove("LOCKSMITHD_ETCD_PASSWORD");
        let config = held.config(password);
        let result = match crate::lock::connect(&config).await {
            Ok(lock) => lock.unlock(&held.holder).await.map(|_| lock.describe()),
            Err(e) => Err(e),
        };
        match result {
            Ok(described) => {
                self.say_line(&format!(
                    "gave the reboot slot back (taken by {}): {described}",
                    held.taken_by
                ));
                crate::lock::HeldSlot::remove(&root).map_err(Error::HeldSlot)
            }
            Err(e) => {
                self.say_line(&format!(
                    "could not give the reboot slot back yet ({e}); trying again later"
                ));
                Ok(())
            }
        }
    }

    /// Give back a slot held across the reboot (after the new release was judged). A failure
    /// leaves it recorded, and the next run tries again.
    ///
    /// # Errors
    /// When the lock settings cannot be used or the record cannot be saved.
    pub async fn release_lock(&mut self) -> Result<(), Error> {
        self.settle_reattach().await;
        if self.record.memory.lock_held.is_none() {
            return Ok(());
        }
        let keys = self.reboot_keys();
        let Some(config) = self.lock_config(&keys)? else {
            // The strategy no longer takes a lock; nothing to ask here (a slot recorded on
            // the node is given back on the backend it names).
            self.record.memory.lock_held = None;
            self.held_lock = None;
            self.save_record()?;
            return self.release_recorded().await;
        };
        let id = self.identity.machine_id.clone();
        let result = match self.held_lock.take() {
            // The lock re-attached at start: its unlock also removes the live key.
            Some(lock) => lock.unlock(&id).await.map(|_| lock.describe()),
            None => match crate::lock::connect(&config).await {
                Ok(lock) => lock.unlock(&id).await.map(|_| lock.describe()),
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(described) => {
                self.say_line(&format!("gave the reboot slot back: {described}"));
                self.record.memory.lock_held = None;
                self.save_record()?;
                crate::lock::HeldSlot::remove(self.root.path()).map_err(Error::HeldSlot)
            }
            Err(e) => {
                self.say_line(&format!(
                    "could not give the reboot slot back yet ({e}); trying again later"
                ));
                Ok(())
            }
        }
    }
}
