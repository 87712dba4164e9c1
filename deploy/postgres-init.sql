-- The hub's databases on the production-like PostgreSQL (the embedded default creates the same set).
create database warehouse;
create database airflow;
-- simulated department systems and the simulator's truth: only for the demo stack, never in production
create database src_police;
create database src_grid;
create database src_health;
create database sim_truth;
