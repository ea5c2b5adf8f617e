"""The Field Sales Flet client. It ships to phones, so it never imports server/."""
