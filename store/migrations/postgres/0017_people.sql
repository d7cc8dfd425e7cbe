-- healthcode schema 0017: officials find residents by name, phone or ID
-- number within their jurisdiction (store/people.go). id_masked is the
-- national ID number with all but its region and last four characters
-- hidden (4101**********1234), from the registration's personal part; the
-- number itself is never stored. The indexes serve the searches.
ALTER TABLE residents ADD COLUMN id_masked TEXT NOT NULL DEFAULT '';
CREATE INDEX residents_name ON residents (name, id);
CREATE INDEX residents_phone ON residents (phone);
