-- Dagster's own storage (runs, event logs, schedules) next to the EMR database, for the same user.
CREATE DATABASE IF NOT EXISTS dagster CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON dagster.* TO 'sgm'@'%';
