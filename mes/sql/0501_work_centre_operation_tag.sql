-- Job shops (issue 23): a work centre with machine data may name a PLC tag that shows which
-- operation it works on — "<order number>/<operation>" as text, or the operation number alone (the
-- order is then the one running on the work centre's line). Its counts are booked to that operation.
ALTER TABLE work_centres ADD COLUMN operation_tag text;
