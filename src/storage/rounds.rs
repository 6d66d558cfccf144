//! (filled in with the rounds and applications issue)
