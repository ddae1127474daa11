-- Undoes the hold of a claim that got no touch (its step was done meanwhile, or the fence or
-- a suppression refused the touch between the hold and its insert: another daemon committed
-- in between): the lease is dropped and the enrollment is due now again, so whoever may
-- decides it afresh from its touches. (Left with the hold's empty due time, it was active and
-- never due: the fleet crash run found seven such first emails.)
-- $1: now. $2: the enrollment.
UPDATE enrollments
SET lease_owner = NULL, lease_until = NULL, updated_at = $1,
    next_due_at = COALESCE(next_due_at, $1)
WHERE id = $2 AND state = 'active'
