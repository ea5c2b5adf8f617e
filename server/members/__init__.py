"""Store members on the devices: member sync rules, purchases, member follow-ups and the profile-view audit log."""
