-- +goose Up
-- A number's throughput is the lower of Meta's throughput level (meta_mps: STANDARD 80, HIGH 1,000,
-- read at registration and each refresh) and the cap its owner set (throughput_cap, NULL: none);
-- throughput_mps keeps that lower one, so a refresh never raises a number above its cap.
ALTER TABLE channels ADD COLUMN meta_mps integer NOT NULL DEFAULT 80 CHECK (meta_mps BETWEEN 1 AND 1000),
                     ADD COLUMN throughput_cap integer CHECK (throughput_cap BETWEEN 1 AND 1000);
-- Before, throughput_mps was Meta's level or a number set by hand: anything but 80 or 1,000 was
-- set by hand, and stays as the cap.
UPDATE channels SET meta_mps = CASE WHEN throughput_mps = 1000 THEN 1000 ELSE 80 END,
                    throughput_cap = CASE WHEN throughput_mps NOT IN (80, 1000) THEN throughput_mps END;

-- +goose Down
ALTER TABLE channels DROP COLUMN meta_mps, DROP COLUMN throughput_cap;
