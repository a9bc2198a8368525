package perm

// The policies, in Django REST framework's names where it has one. Each is a
// value: compose them with All and Any, or write one with Func.
var (
	// AllowAny lets every request through, signed in or not.
	AllowAny Policy = policy{name: "AllowAny", anon: always}
	// IsAuthenticated lets signed-in users through.
	IsAuthenticated Policy = policy{name: "IsAuthenticated", allow: signedIn, anon: never}
	// IsStaff lets staff members through (is_staff; Django REST framework's IsAdminUser).
	IsStaff Policy = policy{name: "IsStaff", allow: staff, anon: never}
	// IsAuthenticatedOrReadOnly lets anyone read and signed-in users write.
	IsAuthenticatedOrReadOnly Policy = policy{name: "IsAuthenticatedOrReadOnly", allow: signedInOrReadOnly, anon: safeOnly}
	// ModelPermissions lets through signed-in users who hold the model
	// permission of the request's action (GET needs view, POST add, PATCH and
	// PUT change, DELETE delete): Django REST framework's
	// DjangoModelPermissions, with view required to read, as in the admin.
	ModelPermissions Policy = policy{name: "ModelPermissions", allow: modelPerm, object: modelPermObject, anon: never}
	// OwnerOrReadOnly lets any signed-in user read and create, and only a
	// row's owner, or a user holding the model's permission for the action,
	// change or delete it (403 for others).
	OwnerOrReadOnly Policy = policy{name: "OwnerOrReadOnly", allow: signedIn, object: ownerOrReadOnly, anon: never}
	// OwnerOnly lets any signed-in user create, and only a row's owner, or a
	// user holding the model's permission, see, change or delete it: lists show
	// only the user's own rows, and another's row is not found (404); one the
	// user may view but not change is 403.
	OwnerOnly Policy = policy{name: "OwnerOnly", allow: signedIn, object: ownerOnly, scope: ownRows, anon: never}
)

// policy is a Policy made of functions; nil ones allow.
type policy struct {
	name   string
	allow  func(r *Request) error
	object func(r *Request, obj Object) error
	scope  func(r *Request) (bool, error)
	anon   func(method string) bool
}

func (p policy) String() string { return p.name }

func (p policy) Allow(r *Request) error {
	if p.allow == nil {
		return nil
	}
	return p.allow(r)
}

func (p policy) AllowObject(r *Request, obj Object) error {
	if p.object == nil {
		return nil
	}
	return p.object(r, obj)
}

func (p policy) OwnRowsOnly(r *Request) (bool, error) {
	if p.scope == nil {
		return false, nil
	}
	return p.scope(r)
}

func (p policy) AllowsAnonymous(method string) bool {
	if p.anon == nil {
		return true
	}
	return p.anon(method)
}

// Func is a custom policy: allow decides on the route, object (optional) on
// a row. Each returns whether the request may go on; a refusal answers 401
// to anonymous requests and 403 PermissionDenied to others (return an error
// of your own from a policy type for other answers).
//
//	perm.Func("IsEditor", func(r *perm.Request) (bool, error) { return r.HasPerm("blog.publish_post") }, nil)
func Func(name string, allow func(r *Request) (bool, error), object func(r *Request, obj Object) (bool, error)) Policy {
	p := policy{name: name}
	if allow != nil {
		p.allow = func(r *Request) error {
			ok, err := allow(r)
			if err != nil {
				return err
			}
			if !ok {
				return Denied(r, "")
			}
			return nil
		}
	}
	if object != nil {
		p.object = func(r *Request, obj Object) error {
			ok, err := object(r, obj)
			if err != nil {
				return err
			}
			if !ok {
				return Denied(r, "")
			}
			return nil
		}
	}
	return p
}

// All lets a request through when every policy does; the first refusal is
// the answer. Its lists are narrowed when any policy narrows them.
func All(ps ...Policy) Policy {
	return policy{
		name: "All",
		allow: func(r *Request) error {
			for _, p := range ps {
				if err := p.Allow(r); err != nil {
					return err
				}
			}
			return nil
		},
		object: func(r *Request, obj Object) error {
			for _, p := range ps {
				if err := p.AllowObject(r, obj); err != nil {
					return err
				}
			}
			return nil
		},
		scope: func(r *Request) (bool, error) {
			for _, p := range ps {
				if s, ok := p.(Scoper); ok {
					own, err := s.OwnRowsOnly(r)
					if err != nil || own {
						return own, err
					}
				}
			}
			return false, nil
		},
		anon: func(method string) bool {
			for _, p := range ps {
				if !AllowsAnonymous(p, method) {
					return false
				}
			}
			return true
		},
	}
}

// Any lets a request through when one policy does (on an object route: one
// policy allows both the route and the row); when all refuse, the first
// refusal is the answer. Its lists are narrowed only when every policy that
// allows the route narrows them.
func Any(ps ...Policy) Policy {
	return policy{
		name: "Any",
		allow: func(r *Request) error {
			var first error
			for _, p := range ps {
				err := p.Allow(r)
				if err == nil {
					return nil
				}
				if first == nil {
					first = err
				}
			}
			return first
		},
		object: func(r *Request, obj Object) error {
			var first error
			for _, p := range ps {
				err := p.Allow(r)
				if err == nil {
					err = p.AllowObject(r, obj)
				}
				if err == nil {
					return nil
				}
				if first == nil {
					first = err
				}
			}
			return first
		},
		scope: func(r *Request) (bool, error) {
			for _, p := range ps {
				if p.Allow(r) != nil {
					continue
				}
				s, ok := p.(Scoper)
				if !ok {
					return false, nil
				}
				own, err := s.OwnRowsOnly(r)
				if err != nil || !own {
					return false, err
				}
			}
			return true, nil
		},
		anon: func(method string) bool {
			for _, p := range ps {
				if AllowsAnonymous(p, method) {
					return true
				}
			}
			return false
		},
	}
}

func always(string) bool { return true }
func never(string) bool  { return false }
func safeOnly(method string) bool {
	return Safe(method)
}

func signedIn(r *Request) error {
	if r.Anonymous() {
		return Denied(r, "")
	}
	return nil
}

func staff(r *Request) error {
	s, err := r.Subject()
	if err != nil {
		return err
	}
	if s == nil || !s.Active || !s.Staff {
		return Denied(r, "")
	}
	return nil
}

func signedInOrReadOnly(r *Request) error {
	if r.Safe() {
		return nil
	}
	return signedIn(r)
}

func modelPerm(r *Request) error {
	if err := signedIn(r); err != nil {
		return err
	}
	ok, err := r.HasModelPerm(r.Action)
	if err != nil {
		return err
	}
	if !ok {
		return Denied(r, "")
	}
	return nil
}

func modelPermObject(r *Request, _ Object) error { return modelPerm(r) }

// owns reports whether the signed-in user owns obj.
func owns(r *Request, obj Object) bool {
	return r.User != nil && obj.Owner != "" && obj.Owner == r.User.UserID()
}

func ownerOrReadOnly(r *Request, obj Object) error {
	if r.Safe() || owns(r, obj) {
		return nil
	}
	ok, err := r.HasModelPerm(r.Action)
	if err != nil {
		return err
	}
	if !ok {
		return Denied(r, "")
	}
	return nil
}

func ownerOnly(r *Request, obj Object) error {
	if owns(r, obj) {
		return nil
	}
	canView, err := r.HasModelPerm(View)
	if err != nil {
		return err
	}
	if !canView {
		return NotFound()
	}
	if r.Action == View {
		return nil
	}
	ok, err := r.HasModelPerm(r.Action)
	if err != nil {
		return err
	}
	if !ok {
		return Denied(r, "")
	}
	return nil
}

func ownRows(r *Request) (bool, error) {
	if r.Anonymous() {
		return true, nil
	}
	canView, err := r.HasModelPerm(View)
	return !canView, err
}
