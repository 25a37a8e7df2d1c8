//! How requests reach the routes as Rails routes them: the format suffix, trailing slashes,
//! and the answers hyper writes before a request reaches the router.
