/* tensorml: L-BFGS steps over a vector distributed across MPI ranks (see tensorml_lbfgs.h). */

#include "tensorml_lbfgs.h"

#include <algorithm>
#include <cmath>

namespace TensorML {

void DistributedLBFGS::reset()
{
  s_.clear();
  y_.clear();
  rho_.clear();
  x_prev_.clear();
  g_prev_.clear();
}

void DistributedLBFGS::restart_from_history()
{
  x_prev_.clear();
  g_prev_.clear();
}

double DistributedLBFGS::dot(const std::vector<double> &a, const std::vector<double> &b) const
{
  double local = 0.0, total = 0.0;
  for (size_t k = 0; k < a.size(); ++k) local += a[k] * b[k];
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, world_);
  return total;
}

std::vector<double> DistributedLBFGS::step(const std::vector<double> &x, const std::vector<double> &g)
{
  const size_t n = x.size();
  if (x_prev_.size() == n) {
    std::vector<double> s(n), y(n);
    for (size_t k = 0; k < n; ++k) {
      s[k] = x[k] - x_prev_[k];
      y[k] = g[k] - g_prev_[k];
    }
    const double ys = dot(y, s);
    if (ys > 1e-30) {    // keep only pairs with positive curvature
      s_.push_back(s);
      y_.push_back(y);
      rho_.push_back(1.0 / ys);
      if ((int) s_.size() > memory_) {
        s_.pop_front();
        y_.pop_front();
        rho_.pop_front();
      }
    }
  }
  x_prev_ = x;
  g_prev_ = g;

  std::vector<double> q = g;
  std::vector<double> a(s_.size());
  for (int i = (int) s_.size() - 1; i >= 0; --i) {
    a[i] = rho_[i] * dot(s_[i], q);
    for (size_t k = 0; k < n; ++k) q[k] -= a[i] * y_[i][k];
  }
  double h0 = 1.0 / alpha_;
  if (!s_.empty()) h0 = 1.0 / (rho_.back() * dot(y_.back(), y_.back()));
  for (auto &v : q) v *= h0;
  for (size_t i = 0; i < s_.size(); ++i) {
    const double b = rho_[i] * dot(y_[i], q);
    for (size_t k = 0; k < n; ++k) q[k] += s_[i][k] * (a[i] - b);
  }
  std::vector<double> dx(n);
  for (size_t k = 0; k < n; ++k) dx[k] = -q[k];
  if (dot(dx, g) >= 0.0) {    // not a descent direction: restart from steepest descent
    ++restarts;
    s_.clear();
    y_.clear();
    rho_.clear();
    for (size_t k = 0; k < n; ++k) dx[k] = -g[k] / alpha_;
  }
  double local = 0.0, longest = 0.0;
  for (size_t p = 0; 3 * p < n; ++p)
    local = std::max(local,
                     std::sqrt(dx[3 * p] * dx[3 * p] + dx[3 * p + 1] * dx[3 * p + 1] + dx[3 * p + 2] * dx[3 * p + 2]));
  MPI_Allreduce(&local, &longest, 1, MPI_DOUBLE, MPI_MAX, world_);
  if (longest > max_step_)
    for (auto &v : dx) v *= max_step_ / longest;
  return dx;
}

}    // namespace TensorML
