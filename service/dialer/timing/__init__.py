"""Call timing: when a message may be published (send_at, valid_until, calling hours, public
holidays, the recipient's daily limit), and taking calls back (cancel, expiry)."""
