//! The A/B `/usr` slots on a GPT disk: find USR-A/USR-B, read and set their priority, tries
//! and successful attributes exactly as cgpt does, and play the firmware's choice
//! (gptprio.next). Primary and backup tables are always written together with valid CRCs.
